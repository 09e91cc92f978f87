import { createLogger, defineConfig } from "vite";
import { resolve } from "node:path";

// The image codecs' Emscripten glue names Node's fs/path/url for use outside browsers; vite
// replaces them with empty modules, which is right here, so its notice carries nothing.
const logger = createLogger();
const loggerWarn = logger.warn;
logger.warn = (message, options) => {
  if (message.includes("externalized for browser compatibility")) return;
  loggerWarn(message, options);
};

// Stable file names: Django's manifest storage adds content hashes in production, so the
// bundle does not need its own. Two entries: artefact.js (every page) and viewer.js (only
// pages with images, so the Cornerstone3D code stays off the others). The image loader's
// decode worker and its WebAssembly codecs (URLs that name npm packages) are resolved by
// vite and emitted under workers/, so they load from /static/dist/workers/ beside it.
export default defineConfig({
  customLogger: logger,
  // Relative URLs (against import.meta.url): the worker and codecs load from beside the
  // bundle wherever STATIC_URL puts it, also under manifest storage's hashed names.
  base: "./",
  worker: {
    format: "es",
    rollupOptions: {
      checks: { pluginTimings: false },
      output: {
        entryFileNames: "workers/[name].js",
        chunkFileNames: "workers/[name].js",
        assetFileNames: "workers/[name][extname]",
      },
    },
  },
  build: {
    outDir: resolve(import.meta.dirname, "../static/dist"),
    emptyOutDir: true,
    sourcemap: true,
    // Cornerstone3D is one large module graph, loaded only by pages with a viewer.
    chunkSizeWarningLimit: 6000,
    rollupOptions: {
      checks: { pluginTimings: false },
      // htmx keeps an eval() for hx-on/js: attributes; we switch that off at run time
      // (allowEval = false in main.js), so its build warning carries no information.
      onwarn(warning, warn) {
        if (warning.code === "EVAL" && /htmx\.org/.test(warning.id ?? "")) return;
        warn(warning);
      },
      input: {
        artefact: resolve(import.meta.dirname, "src/main.js"),
        viewer: resolve(import.meta.dirname, "src/viewer/index.js"),
      },
      output: {
        entryFileNames: "[name].js",
        chunkFileNames: "chunks/[name].js",
        assetFileNames: "[name][extname]",
      },
    },
  },
});
