// Globals jsdom lacks that @grafana/ui and react-dom/server need at import time.
const { TextEncoder, TextDecoder } = require('util');
Object.assign(global, { TextEncoder, TextDecoder });
