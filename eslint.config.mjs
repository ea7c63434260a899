// ESLint (flat config): typescript-eslint's recommended rules with type
// information, so floating promises and unused code are errors. `npm run lint`
// runs it with prettier's check; CI runs `npm run lint`.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "bin/", "coverage/", "**/*.js", "**/*.mjs", "policies/node_modules/"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-misused-promises": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
            "@typescript-eslint/no-explicit-any": "error",
            // The SDK's gRPC stubs and JSON documents come in untyped; reading them is checked at run time instead.
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-return": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/restrict-template-expressions": "off",
            // Resource properties reach the pack and the engine as untyped JSON; String() on them is the intended coercion.
            "@typescript-eslint/no-base-to-string": "off",
            // Providers implement an interface whose methods return promises, whether or not they await.
            "@typescript-eslint/require-await": "off",
            "@typescript-eslint/no-require-imports": "error",
        },
    },
    {
        // Tests may use non-null assertions and assert on thrown values freely.
        files: ["test/**/*.ts"],
        rules: { "@typescript-eslint/no-non-null-assertion": "off", "@typescript-eslint/require-await": "off" },
    },
);
