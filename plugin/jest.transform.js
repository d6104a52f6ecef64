// Jest transform through esbuild (already the bundler), TS/JSX/ESM to CommonJS.
const { transformSync } = require('esbuild');
module.exports = {
  process(src, file) {
    const loader = /\.tsx$/.test(file) ? 'tsx' : /\.ts$/.test(file) ? 'ts' : 'jsx';
    const out = transformSync(src, { loader, format: 'cjs', target: 'es2020', sourcemap: 'inline', sourcefile: file, jsx: 'transform' });
    return { code: out.code };
  },
};
