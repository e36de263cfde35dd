import { reasonName } from '../protocol/reason-codes.js';

// The wording of the MQTT 5 specification's reason code table (section 2.4), for messages people read.
const texts: Record<number, string> = {
  128: 'Unspecified error',
  129: 'Malformed Packet',
  130: 'Protocol Error',
  131: 'Implementation specific error',
  132: 'Unsupported Protocol Version',
  133: 'Client Identifier not valid',
  134: 'Bad User Name or Password',
  135: 'Not authorized',
  136: 'Server unavailable',
  137: 'Server busy',
  138: 'Banned',
  139: 'Server shutting down',
  140: 'Bad authentication method',
  141: 'Keep Alive timeout',
  142: 'Session taken over',
  143: 'Topic Filter invalid',
  144: 'Topic Name invalid',
  145: 'Packet Identifier in use',
  146: 'Packet Identifier not found',
  147: 'Receive Maximum exceeded',
  148: 'Topic Alias invalid',
  149: 'Packet too large',
  150: 'Message rate too high',
  151: 'Quota exceeded',
  152: 'Administrative action',
  153: 'Payload format invalid',
  154: 'Retain not supported',
  155: 'QoS not supported',
  156: 'Use another server',
  157: 'Server moved',
  158: 'Shared Subscriptions not supported',
  159: 'Connection rate exceeded',
  160: 'Maximum connect time',
  161: 'Subscription Identifiers not supported',
  162: 'Wildcard Subscriptions not supported',
};

/** The specification's name of a failure reason code, e.g. 0x87 → 'Not authorized'. */
export function reasonText(code: number): string {
  return texts[code] ?? reasonName(code);
}

/** MQTT 3.1/3.1.1 CONNACK return codes (section 3.2.2.3) as the MQTT 5 reason code with the same meaning. */
export function connackReturnCodeToReason(returnCode: number): number {
  switch (returnCode) {
    case 0:
      return 0x00;
    case 1:
      return 0x84;
    case 2:
      return 0x85;
    case 3:
      return 0x88;
    case 4:
      return 0x86;
    case 5:
      return 0x87;
    default:
      return 0x80;
  }
}
