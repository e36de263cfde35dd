export { topicMatches } from './match.js';
export { RetainedTree } from './retained-tree.js';
export { isSharedFilter, parseSharedFilter, type SharedFilter } from './share.js';
export { TopicTree, type TopicTreeOptions } from './tree.js';
export {
  hasWildcard,
  isValidTopicFilter,
  isValidTopicName,
  validateTopicFilter,
  validateTopicName,
} from './validate.js';
