import { defineConfig } from "vitest/config";

// Django serves the built bundle from STATIC_URL; django-vite reads dist/manifest.json
// to map each entry below to its hashed files.
export default defineConfig({
  base: "/static/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: "manifest.json",
    rollupOptions: {
      input: {
        main: "src/main.ts",
        pages: "src/pages.ts",
      },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
