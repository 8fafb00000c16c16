// Entry point: header, footer, routes.

import { langTag, lang, onLangChange, setLang, t } from './i18n.js';
import { addRoute, currentPath, loginUrl, navigate, onRender, refresh, setNotFound, start } from './router.js';
import { clearSession, getSession, onSessionChange } from './session.js';
import { h, icon, logo } from './ui.js';
import { renderCourseList } from './views/courses.js';
import { renderCourse } from './views/course.js';
import { renderCheckout } from './views/checkout.js';
import { renderLogin, renderRegister } from './views/auth.js';
import { renderOrders } from './views/orders.js';
import { renderMyCourses } from './views/my-courses.js';
import { renderLearn } from './views/learn.js';
import { renderPayResult } from './views/pay-result.js';
import { renderNotFound } from './views/not-found.js';
import { ADMIN_NAV } from './admin/admin.js';

addRoute('/', renderCourseList);
addRoute('/courses/:id', renderCourse);
addRoute('/checkout/:id', renderCheckout, { auth: true });
addRoute('/login', renderLogin);
addRoute('/register', renderRegister);
addRoute('/orders', renderOrders, { auth: true });
addRoute('/my/courses', renderMyCourses, { auth: true });
addRoute('/learn/:id', renderLearn, { auth: true });
addRoute('/pay/success', renderPayResult);
setNotFound(renderNotFound);

const NAV = [
  { href: '/', key: 'nav.courses', match: (p) => p === '/' || p.startsWith('/courses/') || p.startsWith('/checkout/') },
  { href: '/orders', key: 'nav.orders', match: (p) => p === '/orders' || p === '/pay/success' },
  { href: '/my/courses', key: 'nav.myCourses', match: (p) => p === '/my/courses' || p.startsWith('/learn/') },
];

function renderHeader() {
  const header = document.getElementById('site-header');
  const hadFocus = header.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
  const session = getSession();
  const path = location.pathname;
  const inAdmin = path === '/admin' || path.startsWith('/admin/');
  const items = inAdmin ? ADMIN_NAV : NAV;
  const nav = h(
    'nav',
    { class: inAdmin ? 'nav nav-admin' : 'nav', 'aria-label': t(inAdmin ? 'admin.nav' : 'nav.label') },
    h(
      'ul',
      { class: 'nav-list' },
      items.map((item) =>
        h('li', {}, h('a', { href: item.href, class: 'nav-link', 'aria-current': item.match(path) ? 'page' : null, dataset: { focusKey: item.href } }, t(item.key))),
      ),
    ),
  );
  const langButton = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-ghost btn-sm lang-switch',
      lang: lang() === 'zh' ? 'en' : 'zh-CN',
      'aria-label': t('lang.switchLabel'),
      dataset: { focusKey: 'lang' },
      onclick: () => setLang(lang() === 'zh' ? 'en' : 'zh'),
    },
    icon('globe'),
    h('span', {}, t('lang.switch')),
  );
  let account;
  if (session) {
    account = h(
      'div',
      { class: 'account' },
      h('span', { class: 'account-name', title: t('nav.account', { name: session.user.username }) }, icon('user'), h('span', { class: 'account-text', 'data-testid': 'account-name' }, session.user.username)),
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn-ghost btn-sm',
          dataset: { focusKey: 'logout' },
          onclick: () => {
            clearSession();
            document.getElementById('toasts')?.replaceChildren();
            navigate('/login?reason=logout');
          },
        },
        t('nav.logout'),
      ),
    );
  } else {
    const next = path === '/login' || path === '/register' ? null : currentPath();
    account = h(
      'div',
      { class: 'account' },
      h('a', { href: next && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login', class: 'btn btn-ghost btn-sm', dataset: { focusKey: 'login' } }, t('nav.login')),
      h('a', { href: '/register', class: 'btn btn-primary btn-sm btn-register', dataset: { focusKey: 'register' } }, t('nav.register')),
    );
  }
  header.replaceChildren(
    h(
      'div',
      { class: 'header-inner' },
      h('a', { href: inAdmin ? '/admin' : '/', class: 'brand', dataset: { focusKey: 'brand' } }, logo(), h('span', { class: 'brand-text' }, h('span', { class: 'brand-name' }, t('brand.name')), h('span', { class: 'brand-tagline' }, t(inAdmin ? 'admin.title' : 'brand.tagline')))),
      nav,
      h('div', { class: 'header-tools' }, langButton, account),
    ),
  );
  if (hadFocus) header.querySelector(`[data-focus-key="${CSS.escape(hadFocus)}"]`)?.focus();
}

function renderFooter() {
  document.getElementById('site-footer').replaceChildren(
    h(
      'div',
      { class: 'footer-inner' },
      h('p', { class: 'footer-brand' }, logo(), `${t('brand.name')} · ${t('brand.tagline')}`),
      h('ul', { class: 'footer-notes' }, h('li', {}, icon('shield'), t('footer.pay')), h('li', {}, t('footer.currency')), h('li', {}, t('footer.secure'))),
    ),
  );
  document.getElementById('skip-link').textContent = t('skip');
}

onLangChange(() => {
  renderHeader();
  renderFooter();
  refresh();
});
onSessionChange(() => renderHeader());
onRender(() => renderHeader());
window.addEventListener('shop:unauthorized', () => {
  if (location.pathname !== '/login') navigate(loginUrl(currentPath(), 'expired'), { replace: true });
});

document.documentElement.lang = langTag();
renderFooter();
start(document.getElementById('main'));
