import type { AuthenticateRequest, AuthenticateResult, Authenticator } from '../auth/types.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { isLoopbackHost } from '../transport/listener.js';

/** How one listener treats clients, from its configuration. */
export interface ListenerAuthPolicy {
  /** Clients may connect without verified credentials. */
  allowAnonymous: boolean;
  /** The verified TLS client certificate's CN is the username; no password is checked. */
  certificateIdentity: boolean;
}

/**
 * A listener's policy from its settings: anonymous clients as the listener says, else as `auth.allowAnonymous`
 * says, else only when the listener is bound to a loopback address (so 0.0.0.0, :: or a public address refuses
 * them unless configured otherwise, as in Mosquitto 2).
 */
export function listenerAuthPolicy(
  listener: { host: string; allowAnonymous?: boolean | undefined; tls?: { useCertificateCnAsUsername?: boolean } },
  allowAnonymous: boolean | undefined,
): ListenerAuthPolicy {
  return {
    allowAnonymous: listener.allowAnonymous ?? allowAnonymous ?? isLoopbackHost(listener.host),
    certificateIdentity: listener.tls?.useCertificateCnAsUsername === true,
  };
}

/**
 * Applies each listener's anonymous and certificate rules, then asks the password file (if any).
 * Without a password file nothing verifies a username, so a client that sends one is treated as
 * anonymous: a made-up name does not open a listener that refuses anonymous clients (as in Mosquitto 2).
 */
export class ListenerPolicyAuthenticator implements Authenticator {
  readonly #policies: ReadonlyMap<string, ListenerAuthPolicy>;
  readonly #credentials: Authenticator | undefined;
  readonly #defaultAnonymous: boolean | undefined;

  /**
   * @param credentials checks usernames and passwords (a password file); undefined when there is none.
   * @param defaultAnonymous for connections from unknown listeners; undefined means loopback-only ones.
   */
  constructor(
    policies: ReadonlyMap<string, ListenerAuthPolicy>,
    credentials: Authenticator | undefined,
    defaultAnonymous?: boolean,
  ) {
    this.#policies = policies;
    this.#credentials = credentials;
    this.#defaultAnonymous = defaultAnonymous;
  }

  authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult> {
    const policy = request.listener === undefined ? undefined : this.#policies.get(request.listener);
    if (policy?.certificateIdentity) {
      const cn = request.certificateCommonName;
      return cn === undefined ? { ok: false, reasonCode: ReasonCode.NotAuthorized } : { ok: true, username: cn };
    }
    const anonymousAllowed = policy?.allowAnonymous ?? this.#defaultAnonymous ?? request.loopbackOnly === true;
    if (request.username === undefined || this.#credentials === undefined) {
      if (!anonymousAllowed) return { ok: false, reasonCode: ReasonCode.NotAuthorized };
      if (request.username === undefined && request.password === undefined) return { ok: true };
      if (this.#credentials === undefined) return { ok: true };
    }
    return this.#credentials.authenticate(request);
  }
}
