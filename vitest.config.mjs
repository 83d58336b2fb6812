import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "happy-dom",
    include: ["js/tests/**/*.test.js"],
    // Keep vitest away from the Python virtualenv and build output.
    exclude: ["**/node_modules/**", ".venv/**", "src/**"],
    testTimeout: 30000,
  },
});
