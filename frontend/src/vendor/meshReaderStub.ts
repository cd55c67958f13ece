// Stands in for vtk.js's mesh file readers (PLY, STL, OBJ, VTP), which Cornerstone's Mesh class
// imports and this viewer never uses (it loads no surface meshes). The VTP reader alone brings an
// XML DOM, an XML builder and a YAML parser: ~0.9 MB of code the page would parse and run on
// every cold load, before the first frame is decoded. See vite.config.ts.

const meshReaderStub = {
  newInstance(): never {
    throw new Error("Surface meshes are not supported in this viewer.");
  },
};

export default meshReaderStub;
