export type { ClientEntry, ClientsResponse, HealthResponse, StatsResponse } from './api.js';
export { createMetricsRegistry } from './metrics.js';
export { type AdminServer, type AdminServerOptions, DEFAULT_ADMIN_PORT, startAdminServer } from './server.js';
