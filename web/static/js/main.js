// Entry point: build the app's services (wallet, light client, live updates) and start
// the shell.

import { App } from './app.js';
import { Wallet } from './wallet.js';
import { LightClient, pinFromUrl } from './light.js';
import { Live } from './live.js';

async function main() {
  pinFromUrl();
  const app = new App(document.getElementById('app'));
  const wallet = new Wallet();
  const light = new LightClient();
  const live = new Live();
  app.services = { wallet, light, live };
  window.hkchainApp = app;  // for the browser tests' inspection; holds no secret
  await wallet.load();
  wallet.listeners.add(() => app.route());
  wallet.follow(live);
  live.start();
  light.start().catch((e) => console.warn('light client:', e.code || e.message));
  await app.start();
}

main().catch((e) => {
  console.error(e);
  document.getElementById('app').textContent = 'The app failed to start. 应用启动失败。';
});
