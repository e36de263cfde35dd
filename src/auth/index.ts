export { type AclAccess, AclAuthorizer, type AclFile, type AclRule, parseAclFile, readAclFile } from './acl.js';
export { FailureThrottle, type FailureThrottleOptions } from './failure-throttle.js';
export {
  formatPasswordFile,
  type PasswordEntries,
  PasswordFileAuthenticator,
  type PasswordFileAuthenticatorOptions,
  parsePasswordFile,
  readPasswordFile,
  writePasswordFile,
} from './password-file.js';
export {
  defaultScryptParams,
  hashPassword,
  parsePasswordHash,
  type ScryptParams,
  verifyPassword,
} from './password-hash.js';
export * from './types.js';
