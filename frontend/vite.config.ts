import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const MESH_READER_STUB = fileURLToPath(new URL("./src/vendor/meshReaderStub.ts", import.meta.url));
const WEBGL_PROFILES = fileURLToPath(new URL("./src/vendor/vtkWebGLProfiles.ts", import.meta.url));

// Django serves the built bundle from STATIC_URL; django-vite reads dist/manifest.json
// to map each entry below to its hashed files. Workers and WASM codecs referenced with
// new URL(..., import.meta.url) are emitted as hashed assets under the same base.
export default defineConfig({
  base: "/static/",
  resolve: {
    alias: [
      // Cornerstone's Mesh class imports vtk.js's mesh file readers; we load no meshes, and the
      // VTP reader alone pulls ~0.9 MB of XML and YAML libraries into the cold load.
      { find: /^@kitware\/vtk\.js\/IO\/(XML\/XMLPolyDataReader|Geometry\/PLYReader|Geometry\/STLReader|Misc\/OBJReader)\.js$/, replacement: MESH_READER_STUB },
      // vtk.js's profiles register its WebGPU backend too, which Cornerstone never draws with.
      { find: /^@kitware\/vtk\.js\/Rendering\/Profiles\/(Volume|Geometry)\.js$/, replacement: WEBGL_PROFILES },
    ],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: "manifest.json",
    // Cornerstone + vtk.js are one large library chunk, loaded only on the task page.
    chunkSizeWarningLimit: 4000,
    rolldownOptions: {
      input: {
        main: "src/main.ts",
        pages: "src/pages.ts",
        // The same styles alone, for the task page (which needs no htmx).
        pagesStyle: "src/pages.css",
        dashboard: "src/dashboard.ts",
      },
      output: {
        // Library code changes less often than ours: keep it in its own long-cached chunk.
        codeSplitting: {
          groups: [
            // The entry's dynamic-import helper must not land in the library chunk.
            { name: "preload", test: /preload-helper/, priority: 2 },
            { name: "cornerstone", test: /node_modules[\\/](@cornerstonejs|@kitware|gl-matrix|dicom-parser|comlink|d3-|dcmjs)/, priority: 1 },
          ],
        },
      },
    },
  },
  worker: {
    format: "es",
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
