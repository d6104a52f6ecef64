// jsdom + esbuild, as the create-plugin scaffold does, without its .config/ indirection.
module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src'],
  transform: { '^.+\\.(t|j)sx?$|^.+\\.m?js$': '<rootDir>/jest.transform.js' },
  transformIgnorePatterns: ['node_modules/(?!(ol|d3|d3-.*|marked|uuid|@grafana|react-colorful|rxjs|nanoid)/)'],
  moduleNameMapper: { '\\.(css|scss|sass)$': 'identity-obj-proxy' },
  setupFiles: ['<rootDir>/jest.polyfills.js'],
  setupFilesAfterEnv: ['<rootDir>/jest.setup.js'],
};
