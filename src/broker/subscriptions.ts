import type { QoS } from '../protocol/packets.js';
import { TopicTree } from '../topics/index.js';
import type { Message } from './message.js';
import type { Session, SessionSubscription } from './session.js';

/** One subscriber of a filter: the session and its subscription options. */
export interface Subscriber {
  session: Session;
  subscription: SessionSubscription;
}

/** A shared subscription group `$share/{name}/{filter}` (MQTT 5 section 4.8.2). */
export interface SharedGroup {
  name: string;
  filter: string;
  members: Subscriber[];
  /** Round-robin position. */
  next: number;
}

/** Decides per delivery whether the subscriber may read the topic (Authorizer.canRead); undefined = allow all. */
export type ReadCheck = ((session: Session, topic: string) => boolean) | undefined;

/**
 * Every subscription of every session: a TopicTree of plain subscriptions keyed by client id, and a TopicTree
 * of shared groups keyed by group name. The router merges overlapping subscriptions of one session into one
 * delivery, using scratch fields on the session so that routing allocates nothing per message.
 */
export class SubscriptionIndex {
  readonly #plain = new TopicTree<Subscriber>();
  readonly #shared = new TopicTree<SharedGroup>();
  readonly #targets: Session[] = [];
  #mark = 0;
  #count = 0;

  /** Number of subscriptions (shared members included). */
  get size(): number {
    return this.#count;
  }

  add(session: Session, subscription: SessionSubscription): void {
    const subscriber: Subscriber = { session, subscription };
    if (subscription.group === undefined) {
      if (this.#plain.add(subscription.filter, session.clientId, subscriber)) this.#count++;
      return;
    }
    let group = this.#shared.get(subscription.filter, subscription.group);
    if (!group) {
      group = { name: subscription.group, filter: subscription.filter, members: [], next: 0 };
      this.#shared.add(subscription.filter, subscription.group, group);
    }
    const index = group.members.findIndex((m) => m.session === session);
    if (index >= 0) group.members[index] = subscriber;
    else {
      group.members.push(subscriber);
      this.#count++;
    }
  }

  remove(session: Session, subscription: SessionSubscription): void {
    if (subscription.group === undefined) {
      if (this.#plain.remove(subscription.filter, session.clientId)) this.#count--;
      return;
    }
    const group = this.#shared.get(subscription.filter, subscription.group);
    if (!group) return;
    const index = group.members.findIndex((m) => m.session === session);
    if (index < 0) return;
    group.members.splice(index, 1);
    this.#count--;
    if (group.members.length === 0) this.#shared.remove(subscription.filter, subscription.group);
  }

  /**
   * Delivers a message to every matching session: one copy per session at the highest granted QoS of its
   * matching subscriptions, with all their subscription identifiers [MQTT-3.3.4-2], [MQTT-3.3.4-4]; and one copy
   * per matching share group to one member, round robin. Returns [deliveries, persisted].
   */
  route(message: Message, canRead: ReadCheck, result: RouteResult): void {
    const topic = message.topic;
    const origin = message.origin;
    const mark = ++this.#mark;
    const targets = this.#targets;
    const subscribers = this.#plain.match(topic);
    for (let i = 0; i < subscribers.length; i++) {
      const { session, subscription } = subscribers[i];
      // [MQTT-3.8.3-3] No Local: not to the connection that published it.
      if (subscription.noLocal && origin === session.clientId) continue;
      const qos = Math.min(subscription.qos, message.qos) as QoS;
      const id = subscription.subscriptionIdentifier;
      if (session.routeMark !== mark) {
        if (canRead && !canRead(session, topic)) continue;
        session.routeMark = mark;
        session.routeQos = qos;
        session.routeRetainAsPublished = subscription.retainAsPublished;
        session.routeSubscriptionIds = id === undefined ? undefined : [id];
        targets.push(session);
      } else {
        if (qos > session.routeQos) session.routeQos = qos;
        if (subscription.retainAsPublished) session.routeRetainAsPublished = true;
        if (id !== undefined) {
          if (session.routeSubscriptionIds) session.routeSubscriptionIds.push(id);
          else session.routeSubscriptionIds = [id];
        }
      }
    }
    for (let i = 0; i < targets.length; i++) {
      const session = targets[i];
      // [MQTT-3.3.1-12] RETAIN is 0 on forwarded messages unless Retain As Published [MQTT-3.3.1-13].
      const retain = session.routeRetainAsPublished && message.retain;
      if (session.deliver(message, session.routeQos, retain, session.routeSubscriptionIds, undefined)) {
        result.persisted = true;
      }
      result.deliveries++;
    }
    targets.length = 0;

    const groups = this.#shared.match(topic);
    for (let i = 0; i < groups.length; i++) {
      if (this.deliverShared(groups[i], message, canRead, undefined)) result.persisted = true;
      result.deliveries++;
    }
  }

  /**
   * One member of the group receives the message: the next connected member in round-robin order, or when
   * none is connected the next member whose session keeps messages. `except` skips a leaving member.
   */
  deliverShared(group: SharedGroup, message: Message, canRead: ReadCheck, except: Session | undefined): boolean {
    const members = group.members;
    const n = members.length;
    let chosen: Subscriber | undefined;
    for (let pass = 0; pass < 2 && !chosen; pass++) {
      for (let k = 0; k < n; k++) {
        const member = members[(group.next + k) % n];
        const session = member.session;
        if (session === except) continue;
        if (pass === 0 && !session.connection?.ready) continue;
        if (pass === 1 && !session.persistent) continue;
        if (member.subscription.noLocal && message.origin === session.clientId) continue;
        if (canRead && !canRead(session, message.topic)) continue;
        chosen = member;
        group.next = (group.next + k + 1) % n;
        break;
      }
    }
    if (!chosen) return false;
    const subscription = chosen.subscription;
    const qos = Math.min(subscription.qos, message.qos) as QoS;
    const id = subscription.subscriptionIdentifier;
    const retain = subscription.retainAsPublished && message.retain;
    return chosen.session.deliver(message, qos, retain, id === undefined ? undefined : [id], group);
  }
}

/** Filled in by SubscriptionIndex.route (one object reused by the broker). */
export interface RouteResult {
  deliveries: number;
  persisted: boolean;
}
