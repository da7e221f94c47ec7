// Every page of the app, and the navigation. Resident pages need no role; the committees'
// console (issue 16) adds pages with roles: ['committee'], ['property_company'], … which
// show only to a key holding one of them.

import * as home from './pages/home.js';
import * as bills from './pages/bills.js';
import * as votes from './pages/votes.js';
import * as more from './pages/more.js';
import * as me from './pages/me.js';

export const ROUTES = {
  home: { title: 'nav.home', render: home.render },
  bills: { title: 'nav.bills', render: bills.render },
  votes: { title: 'nav.votes', render: votes.render },
  more: { title: 'nav.more', render: more.render },
  me: { title: 'nav.me', render: me.render },
};

// where: 'narrow' only in the bottom bar, 'wide' only in the sidebar; elder: kept in elder mode.
export const NAV = [
  { route: 'home', icon: '⌂', elder: true },
  { route: 'bills', icon: '¥', elder: true },
  { route: 'votes', icon: '✓', elder: true },
  { route: 'more', icon: '☰', where: 'narrow', elder: true },
  { route: 'me', icon: '☺', elder: true },
];
