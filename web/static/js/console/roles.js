// The roles that open the committees' console, and which console pages a key sees.
// The chain decides: roles come from roles.roles_of at sign-in (wallet.js); a page the
// key's roles do not allow is not listed, and the router refuses to show it.

export const CONSOLE_ROLES = ['committee', 'property_company', 'service_provider', 'merchant'];

export function hasConsoleRole(roles) { return CONSOLE_ROLES.some((r) => roles.has(r)); }
