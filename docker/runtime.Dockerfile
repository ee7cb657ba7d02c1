# The semirt action runtime image: an OpenWhisk "blackbox" (--docker) runtime on port 8080.
#   docker build -f docker/runtime.Dockerfile -t <registry>/semirt-runtime .
# The same entry point (node dist/src/cli/main.js runtime) is what the conformance tests run.

FROM node:20-bookworm AS build
WORKDIR /app
# onnxruntime-node's install script would download optional CUDA files; its CPU binary ships in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY src src
COPY test test
COPY bench bench
COPY examples examples
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist/src dist/src
COPY --from=build /app/examples examples
ENV NODE_ENV=production PORT=8080
EXPOSE 8080
USER node
# SIGTERM drains in-flight activations (new ones get 503) before exiting.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/main.js", "runtime"]
