export {
  type BrokerFlags,
  type ConfigOverride,
  type ConfigResult,
  environmentVariables,
  type LoadConfigOptions,
  loadConfig,
  overridesFromEnvironment,
  overridesFromFlags,
  resolveConfig,
} from './load.js';
export { type ConfigInput, configSchema, type ListenerSettings, type StarlingConfig } from './schema.js';
