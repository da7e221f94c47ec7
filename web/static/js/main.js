// Entry point: build the app's services and start the shell.

import { App } from './app.js';

const app = new App(document.getElementById('app'));
window.hkchainApp = app;  // for the browser tests' inspection only; holds no secret
app.start().catch((e) => {
  console.error(e);
  document.getElementById('app').textContent = 'The app failed to start. 应用启动失败。';
});
