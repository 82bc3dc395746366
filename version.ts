/** dost's version; bump on release. */
export const VERSION = "0.1.0";
