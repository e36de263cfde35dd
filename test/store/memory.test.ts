import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/types.js';
import { storeSuite } from './suite.js';

// A MemoryStore keeps its data across close() and open(): that is how a restart is simulated in tests.
storeSuite(
  'memory',
  async () => new MemoryStore(),
  undefined,
  async (store: Store) => {
    await store.close();
    await store.open();
    return store;
  },
);
