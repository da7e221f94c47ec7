// Every page of the app, and the navigation. Resident pages need no role; the committees'
// console adds pages with roles: ['committee'], ['property_company'], … which show only
// to a key holding one of them, in the navigation's console section (section: 'console').

import * as home from './pages/home.js';
import * as bills from './pages/bills.js';
import * as votes from './pages/votes.js';
import * as proposals from './pages/proposals.js';
import * as services from './pages/services.js';
import * as culture from './pages/culture.js';
import * as activities from './pages/activities.js';
import * as notices from './pages/notices.js';
import * as merchants from './pages/merchants.js';
import * as statement from './pages/statement.js';
import * as more from './pages/more.js';
import * as me from './pages/me.js';
import * as explorer from './pages/explorer.js';
import * as consoleHome from './console/home.js';
import * as consoleHouseholds from './console/households.js';
import * as consoleProperty from './console/property.js';
import { CONSOLE_ROLES } from './console/roles.js';
import * as consoleGovernance from './console/governance.js';
import * as consoleNotices from './console/notices.js';
import * as consoleActivities from './console/activities.js';
import * as consoleGrants from './console/grants.js';
import * as consoleValidators from './console/validators.js';
import * as dashboard from './console/dashboard.js';
import * as consoleShop from './console/shop.js';
import * as consoleJobs from './console/jobs.js';

export const ROUTES = {
  home: { title: 'nav.home', render: home.render },
  bills: { title: 'nav.bills', render: bills.render },
  votes: { title: 'nav.votes', render: votes.render },
  proposals: { title: 'nav.proposals', render: proposals.render },
  services: { title: 'nav.services', render: services.render },
  culture: { title: 'nav.culture', render: culture.render },
  activities: { title: 'nav.activities', render: activities.render },
  notices: { title: 'nav.notices', render: notices.render },
  merchants: { title: 'nav.merchants', render: merchants.render },
  statement: { title: 'nav.statement', render: statement.render },
  explorer: { title: 'nav.explorer', render: explorer.render },
  more: { title: 'nav.more', render: more.render },
  me: { title: 'nav.me', render: me.render },
  // --- the committees' console ---
  console: { title: 'nav.console', roles: CONSOLE_ROLES, render: consoleHome.render },
  // votes, notices and activities (issue 16 items 4 and 5)
  governance: { title: 'console.governance.nav', roles: ['committee'], render: consoleGovernance.render },
  noticeboard: { title: 'console.notices.nav', roles: ['committee', 'property_company'], render: consoleNotices.render },
  organise: { title: 'console.activities.nav', roles: ['committee'], render: consoleActivities.render },
  // roles and validators (item 6); 'validator' is held by a key of the validator set (wallet.js)
  grants: { title: 'console.roles.nav', roles: ['committee', 'property_company'], render: consoleGrants.render },
  validators: { title: 'console.validators.nav', roles: ['committee', 'validator'], render: consoleValidators.render },
  dashboard: { title: 'console.dashboard.nav', roles: dashboard.DASHBOARD_ROLES, render: dashboard.render },
  households: { title: 'console.households.title', roles: ['committee'], render: consoleHouseholds.render },
  property: { title: 'console.property.title', roles: ['property_company', 'committee'], render: consoleProperty.render },
  // a merchant's shop: payments received, an order checked, the listing
  shop: { title: 'console.shop.nav', roles: ['merchant'], render: consoleShop.render },
  // a service provider's jobs: open requests to offer on, the jobs it was chosen for
  jobs: { title: 'console.jobs.nav', roles: ['service_provider'], render: consoleJobs.render },
};

// where: 'narrow' only in the bottom bar, 'wide' only in the sidebar; elder: kept in elder mode;
// section: 'console' for the console's pages (listed under their own heading).
export const NAV = [
  { route: 'home', icon: '⌂', elder: true },
  { route: 'bills', icon: '¥', elder: true },
  { route: 'votes', icon: '✓', elder: true },
  { route: 'notices', icon: '✉', where: 'wide' },
  { route: 'activities', icon: '☼', where: 'wide' },
  { route: 'services', icon: '⚒', where: 'wide' },
  { route: 'culture', icon: '✎', where: 'wide' },
  { route: 'proposals', icon: '✍', where: 'wide' },
  { route: 'merchants', icon: '¤', where: 'wide' },
  { route: 'statement', icon: '≡', where: 'wide' },
  { route: 'explorer', icon: '▦', where: 'wide' },
  { route: 'more', icon: '☰', where: 'narrow', elder: true },
  { route: 'me', icon: '☺', elder: true },
  // --- the committees' console ---
  { route: 'console', icon: '⚙', where: 'wide', section: 'console' },
  { route: 'governance', icon: '⚖', where: 'wide', section: 'console' },
  { route: 'noticeboard', icon: '✉', where: 'wide', section: 'console' },
  { route: 'organise', icon: '☼', where: 'wide', section: 'console' },
  { route: 'grants', icon: '⚑', where: 'wide', section: 'console' },
  { route: 'validators', icon: '⛭', where: 'wide', section: 'console' },
  { route: 'dashboard', icon: '▤', where: 'wide', section: 'console' },
  { route: 'households', icon: '⌂', where: 'wide', section: 'console' },
  { route: 'property', icon: '¥', where: 'wide', section: 'console' },
  { route: 'shop', icon: '¤', where: 'wide', section: 'console' },
  { route: 'jobs', icon: '⚒', where: 'wide', section: 'console' },
];
