import fc from 'fast-check';

// Few distinct levels so that random filters and topics actually meet; '' gives empty levels ('a//b', '/').
const topicLevel = fc.constantFrom('a', 'b', 'c', '', '$SYS', '$x', 'é');

/** Valid topic names of 1 to 4 levels, including '$' topics and empty levels. */
export const topicName = fc
  .array(topicLevel, { minLength: 1, maxLength: 4 })
  .map((levels) => levels.join('/'))
  .filter((t) => t.length > 0);

/** Valid topic filters: levels of names and '+', optionally ending in '#'. */
export const topicFilter = fc
  .tuple(fc.array(fc.oneof(topicLevel, fc.constant('+')), { minLength: 0, maxLength: 4 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  .filter((f) => f.length > 0);
