// The CLI package's public surface is its binary (`captioner`); see src/main.ts.
export {};
