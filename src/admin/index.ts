export type { ClientEntry, ClientsResponse, HealthResponse, SessionResponse, StatsResponse } from './api.js';
export { createMetricsRegistry } from './metrics.js';
export { type AdminServer, type AdminServerOptions, DEFAULT_ADMIN_PORT, startAdminServer } from './server.js';
