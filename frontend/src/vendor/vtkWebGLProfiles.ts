// vtk.js's rendering profiles register both its WebGL and its WebGPU backends; Cornerstone draws
// with WebGL only (its offscreen render window is a vtkOpenGLRenderWindow), so the page takes the
// WebGL half. See vite.config.ts.
import "@kitware/vtk.js/Rendering/OpenGL/Profiles/Geometry.js";
import "@kitware/vtk.js/Rendering/OpenGL/Profiles/Volume.js";
