require('@testing-library/jest-dom');
// jsdom lacks these; @grafana/ui touches them.
global.ResizeObserver = class { observe() {} unobserve() {} disconnect() {} };
Object.defineProperty(window, 'matchMedia', {
  writable: true,
  value: (query) => ({ matches: false, media: query, onchange: null, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {}, dispatchEvent() { return false; } }),
});
global.IntersectionObserver = class { observe() {} unobserve() {} disconnect() {} takeRecords() { return []; } };
// findBy*/waitFor wait up to 10 s (not 1 s): on a loaded 2-core machine the first render of a page
// with @grafana/ui can take longer than a second. Nothing is timed: the wait ends as soon as it holds.
require('@testing-library/react').configure({ asyncUtilTimeout: 10000 });
