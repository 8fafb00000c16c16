// The back office at /admin/: its pages, registered into the shop's router, and its words.

import { addMessages } from '../i18n.js';
import { addRoute } from '../router.js';
import { renderAnomalies } from './anomalies.js';
import { renderCatalog } from './catalog.js';
import { renderDashboard } from './dashboard.js';
import { adminMessages } from './messages.js';
import { renderNotifications } from './notifications.js';
import { renderAdminOrder } from './order.js';
import { renderOrderList } from './orders.js';
import { renderSettlementDay, renderSettlements } from './settlements.js';

addMessages(adminMessages);

addRoute('/admin', renderDashboard, { auth: true });
addRoute('/admin/orders', renderOrderList, { auth: true });
addRoute('/admin/orders/:no', renderAdminOrder, { auth: true });
addRoute('/admin/anomalies', renderAnomalies, { auth: true });
addRoute('/admin/notifications', renderNotifications, { auth: true });
addRoute('/admin/catalog', renderCatalog, { auth: true });
addRoute('/admin/settlements', renderSettlements, { auth: true });
addRoute('/admin/settlements/:date', renderSettlementDay, { auth: true });

/** The back office's navigation. */
export const ADMIN_NAV = [
  { href: '/admin', key: 'admin.navDashboard', match: (p) => p === '/admin' || p === '/admin/' },
  { href: '/admin/orders', key: 'admin.navOrders', match: (p) => p.startsWith('/admin/orders') },
  { href: '/admin/anomalies', key: 'admin.navAnomalies', match: (p) => p.startsWith('/admin/anomalies') },
  { href: '/admin/notifications', key: 'admin.navNotifications', match: (p) => p.startsWith('/admin/notifications') },
  { href: '/admin/catalog', key: 'admin.navCatalog', match: (p) => p.startsWith('/admin/catalog') },
  { href: '/admin/settlements', key: 'admin.navSettlements', match: (p) => p.startsWith('/admin/settlements') },
];
