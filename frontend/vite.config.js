import { defineConfig } from "vite";
import { resolve } from "node:path";

// Stable file names: Django's manifest storage adds content hashes in production, so the
// bundle does not need its own.
export default defineConfig({
  build: {
    outDir: resolve(import.meta.dirname, "../static/dist"),
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: {
      // htmx keeps an eval() for hx-on/js: attributes; we switch that off at run time
      // (allowEval = false in main.js), so its build warning carries no information.
      onwarn(warning, warn) {
        if (warning.code === "EVAL" && /htmx\.org/.test(warning.id ?? "")) return;
        warn(warning);
      },
      input: resolve(import.meta.dirname, "src/main.js"),
      output: {
        entryFileNames: "artefact.js",
        chunkFileNames: "chunks/[name].js",
        assetFileNames: "artefact[extname]",
      },
    },
  },
});
