/** Registers the builders of the derived datasets (imported for its side effect). */
export {};
