// All protocol test vectors: valid packets at each protocol level, and bytes that must be refused.

import { invalidVectors } from './invalid.js';
import { mqtt5Vectors } from './mqtt5.js';
import { mqtt31Vectors } from './mqtt31.js';
import { mqtt311Vectors } from './mqtt311.js';

export type { InvalidVector, ValidVector } from './helpers.js';
export { invalidVectors, mqtt5Vectors, mqtt31Vectors, mqtt311Vectors };

export const validVectors = [...mqtt31Vectors, ...mqtt311Vectors, ...mqtt5Vectors];
