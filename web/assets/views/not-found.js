// Any other path under the pages.

import { t } from '../i18n.js';
import { emptyState, h, setTitle } from '../ui.js';

export function renderNotFound({ root }) {
  setTitle(t('notFound.title'));
  root.replaceChildren(h('div', { class: 'card' }, emptyState('info', t('notFound.title'), t('notFound.text'), h('a', { href: '/', class: 'btn btn-primary' }, t('common.backToCourses')), { heading: 'h1' })));
}
