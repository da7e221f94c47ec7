// Live updates over the node's websocket (/v1/ws): one connection for the app, subscribed
// to blocks, events and validator-set changes; pages listen for what they show and are told again after a
// reconnect (they then re-read, so nothing missed while offline stays missing).

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export class Live {
  constructor() {
    this.ws = null;
    this.listeners = new Set();
    this.retryMs = RETRY_MIN_MS;
    this.connected = false;
  }

  start() {
    if (this.ws) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ subscribe: ['blocks', 'events', 'validators'] }));
    };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type === 'subscribed') {
        this.retryMs = RETRY_MIN_MS;
        const again = this.connected === false;
        this.connected = true;
        if (again) this.emit({ type: 'connected' });
        return;
      }
      this.emit(msg);
    };
    ws.onclose = () => {
      this.ws = null;
      this.connected = false;
      this.emit({ type: 'disconnected' });
      setTimeout(() => this.start(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    };
  }

  emit(msg) { for (const fn of [...this.listeners]) { try { fn(msg); } catch (e) { console.error(e); } } }

  // fn(msg) for every message matching `filter` ({type, contract, name}); returns the
  // function that stops listening.
  on(filter, fn) {
    const wrapped = (msg) => {
      if (msg.type === 'connected' || msg.type === 'disconnected') { fn(msg); return; }
      for (const [k, v] of Object.entries(filter)) if (v !== undefined && msg[k] !== v) return;
      fn(msg);
    };
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }
}
