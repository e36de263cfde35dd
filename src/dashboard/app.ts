/**
 * The dashboard, in the browser: polls the admin API once a second and shows the broker's numbers, message rates
 * (from the deltas of its counters) and connected clients. Dependency-free; compiled by tsc like the rest.
 */
import type { ClientEntry, ClientsResponse, SessionResponse, StatsResponse } from '../admin/api.js';
import {
  type CounterSample,
  formatBytes,
  formatCount,
  formatDuration,
  formatProtocolVersion,
  type Rates,
  rates,
} from './format.js';

const POLL_MS = 1000;
const CHART_POINTS = 60;
const TOKEN_KEY = 'starling-admin-token';

class Unauthorized extends Error {}

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`dashboard: #${id} is missing`);
  return found as T;
}

function setText(id: string, text: string): void {
  const target = element(id);
  if (target.textContent !== text) target.textContent = text;
}

async function getJson<T>(path: string): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { headers, cache: 'no-store' });
  if (response.status === 401) throw new Unauthorized();
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

class Dashboard {
  #previous: CounterSample | undefined;
  readonly #history: Rates[] = [];
  #timer: number | undefined;
  /** The client whose session is shown, refreshed with every poll. */
  #selected: string | undefined;

  start(): void {
    const form = element<HTMLFormElement>('token-form');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = element<HTMLInputElement>('token').value.trim();
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      form.hidden = true;
      this.#schedule(0);
    });
    window.addEventListener('resize', () => this.#drawChart());
    element('clients').addEventListener('click', (event) => {
      const row = (event.target as HTMLElement).closest('tr');
      const clientId = row?.dataset.clientId;
      if (clientId === undefined) return;
      this.#selected = clientId;
      this.#schedule(0);
    });
    element('session-close').addEventListener('click', () => {
      this.#selected = undefined;
      element('session').hidden = true;
      this.#markSelected();
    });
    this.#schedule(0);
  }

  #schedule(delay: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = window.setTimeout(() => void this.#poll(), delay);
  }

  /** One poll at a time: the next is scheduled when this one ends, so a slow broker never piles requests up. */
  async #poll(): Promise<void> {
    this.#timer = undefined;
    try {
      const [stats, clients] = await Promise.all([
        getJson<StatsResponse>('api/stats'),
        getJson<ClientsResponse>('api/clients'),
      ]);
      this.#showStatus(true, 'live');
      this.#showStats(stats);
      this.#showClients(clients, stats.now);
      if (this.#selected !== undefined) await this.#showSession(this.#selected);
    } catch (error) {
      if (error instanceof Unauthorized) {
        sessionStorage.removeItem(TOKEN_KEY);
        element<HTMLFormElement>('token-form').hidden = false;
        this.#showStatus(false, 'token required');
        return; // polling resumes when a token is entered
      }
      this.#showStatus(false, 'broker unreachable');
    }
    this.#schedule(POLL_MS);
  }

  #showStatus(ok: boolean, text: string): void {
    element('status-dot').className = ok ? 'dot ok' : 'dot bad';
    setText('status', text);
  }

  #showStats(response: StatsResponse): void {
    const s = response.stats;
    const sample: CounterSample = {
      at: response.now,
      messagesReceived: s.messagesReceived,
      messagesSent: s.messagesSent,
      bytesReceived: s.bytesReceived,
      bytesSent: s.bytesSent,
      droppedMessages: s.droppedMessages,
    };
    const rate = rates(this.#previous, sample);
    const first = this.#previous === undefined;
    this.#previous = sample;
    if (!first) {
      this.#history.push(rate);
      if (this.#history.length > CHART_POINTS) this.#history.shift();
    }
    const perSecond = (value: number): string => (first ? '–' : formatCount(value));
    const bytesPerSecond = (value: number): string => (first ? '–' : formatBytes(value));

    setText('version', `v${response.version}`);
    setText('clients-connected', formatCount(s.clientsConnected));
    setText('sessions', `${formatCount(s.sessions)} ${s.sessions === 1 ? 'session' : 'sessions'}`);
    setText('messages-received', formatCount(s.messagesReceived));
    setText('messages-received-rate', perSecond(rate.messagesReceived));
    setText('messages-sent', formatCount(s.messagesSent));
    setText('messages-sent-rate', perSecond(rate.messagesSent));
    setText('bytes-received', formatBytes(s.bytesReceived));
    setText('bytes-received-rate', bytesPerSecond(rate.bytesReceived));
    setText('bytes-sent', formatBytes(s.bytesSent));
    setText('bytes-sent-rate', bytesPerSecond(rate.bytesSent));
    setText('subscriptions', formatCount(s.subscriptions));
    setText('retained', formatCount(s.retained));
    setText('dropped', formatCount(s.droppedMessages));
    setText('dropped-rate', perSecond(rate.droppedMessages));
    setText('uptime', formatDuration(response.uptime));
    setText('memory', formatBytes(response.process.rss));
    this.#drawChart();
  }

  #showClients(response: ClientsResponse, now: number): void {
    const body = element('clients');
    // Client ids and user names come from the network: text nodes only, never markup.
    const rows = response.clients.map((client) => clientRow(client, now));
    body.replaceChildren(...rows);
    this.#markSelected();
    element('no-clients').hidden = response.total > 0;
    setText(
      'clients-shown',
      response.truncated ? `(${response.clients.length} of ${response.total})` : `(${response.total})`,
    );
  }

  async #showSession(clientId: string): Promise<void> {
    const panel = element('session');
    setText('session-id', clientId === '' ? '(empty)' : clientId);
    let session: SessionResponse;
    try {
      session = await getJson<SessionResponse>(`api/clients/${encodeURIComponent(clientId)}`);
    } catch (error) {
      if (error instanceof Unauthorized) throw error;
      setText('session-summary', 'No session for this client any more.');
      element('session-subscriptions').replaceChildren();
      panel.hidden = false;
      return;
    }
    const state = session.connected ? 'connected' : 'offline';
    const expiry =
      session.expiryInterval === 0
        ? 'ends with its connection'
        : session.expiryInterval === 0xffffffff
          ? 'never expires'
          : `expires ${formatDuration(session.expiryInterval)} after disconnecting`;
    const will = session.willPending ? ', will pending' : '';
    setText(
      'session-summary',
      `${state}, MQTT ${formatProtocolVersion(session.protocolVersion)}, ${expiry}, ` +
        `${formatCount(session.inflight)} in flight, ${formatCount(session.queued)} queued ` +
        `(${formatBytes(session.queuedBytes)})${will}`,
    );
    const rows = session.subscriptions.map((s) => {
      const row = document.createElement('tr');
      const cells: [string, boolean][] = [
        [s.topicFilter, false],
        [String(s.qos), true],
        [s.noLocal ? 'yes' : 'no', false],
        [s.retainAsPublished ? 'yes' : 'no', false],
        [String(s.retainHandling), true],
        [s.subscriptionIdentifier === null ? '–' : String(s.subscriptionIdentifier), true],
      ];
      for (const [text, numeric] of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        if (numeric) td.className = 'num';
        row.append(td);
      }
      return row;
    });
    element('session-subscriptions').replaceChildren(...rows);
    panel.hidden = false;
  }

  #markSelected(): void {
    for (const row of element('clients').querySelectorAll('tr')) {
      row.classList.toggle('selected', row.dataset.clientId === this.#selected);
    }
  }

  #drawChart(): void {
    const canvas = element<HTMLCanvasElement>('chart');
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const context = canvas.getContext('2d');
    if (!context) return;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const style = getComputedStyle(document.documentElement);
    const history = this.#history;
    const max = Math.max(1, ...history.map((r) => Math.max(r.messagesReceived, r.messagesSent)));
    const top = 14;
    const plot = height - top - 2;

    context.strokeStyle = style.getPropertyValue('--line');
    context.lineWidth = 1;
    context.beginPath();
    context.moveTo(0, height - 1.5);
    context.lineTo(width, height - 1.5);
    context.stroke();
    context.fillStyle = style.getPropertyValue('--muted');
    context.font = '11px system-ui, sans-serif';
    context.fillText(`${formatCount(max)}/s`, 4, 11);

    const line = (pick: (r: Rates) => number, color: string, lineWidth: number): void => {
      if (history.length === 0) return;
      // One sample draws as a short level segment at the right edge.
      const points = history.length === 1 ? [history[0]!, history[0]!] : history;
      const step = width / (CHART_POINTS - 1);
      const offset = (CHART_POINTS - points.length) * step;
      context.strokeStyle = color;
      context.lineWidth = lineWidth;
      context.beginPath();
      points.forEach((r, i) => {
        const x = offset + i * step;
        const y = top + plot - (pick(r) / max) * plot;
        if (i === 0) context.moveTo(x, y);
        else context.lineTo(x, y);
      });
      context.stroke();
    };
    // In is drawn wider underneath, so that equal rates (one subscriber per message) still show both lines.
    line((r) => r.messagesReceived, style.getPropertyValue('--accent'), 4);
    line((r) => r.messagesSent, style.getPropertyValue('--accent2'), 1.5);
  }
}

function clientRow(client: ClientEntry, now: number): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.clientId = client.clientId;
  const cell = (text: string, numeric = false): void => {
    const td = document.createElement('td');
    td.textContent = text;
    if (numeric) td.className = 'num';
    row.append(td);
  };
  cell(client.clientId === '' ? '(empty)' : client.clientId);
  cell(client.username ?? '–');
  cell(formatProtocolVersion(client.protocolVersion));
  cell(client.remoteAddress ?? '–');
  cell(client.listener ?? '–');
  cell(client.connectedAt === null ? '–' : formatDuration((now - client.connectedAt) / 1000));
  cell(formatCount(client.subscriptions), true);
  cell(formatCount(client.inflight), true);
  cell(formatCount(client.queued), true);
  return row;
}

new Dashboard().start();
