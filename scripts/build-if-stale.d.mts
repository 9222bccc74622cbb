/** Types of build-if-stale.mjs (plain JavaScript, so that `npm start` needs no TypeScript loader). */
export declare const STAMP: string;
export declare function newestInput(root: string): number;
export declare function isStale(root: string): boolean;
