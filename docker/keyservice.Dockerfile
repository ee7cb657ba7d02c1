# The semirt KeyService image: client port 13570 (owners, users), worker port 13571 (runtimes,
# mutually attested TLS). The KeyService presents an RA-TLS certificate on both ports.
#   docker build -f docker/keyservice.Dockerfile -t <registry>/semirt-keyservice .
# Simulation (no SGX; proves nothing about hardware), with a sim-dcap authority folder:
#   docker run -p 13570:13570 -p 13571:13571 \
#     -v ks-data:/data -v /secure/ks:/secrets:ro \
#     <registry>/semirt-keyservice \
#     --sealing-key-file /secrets/sealing.key \
#     --attestation-mode simulation --sim-dcap-dir /secrets/sim-dcap
# Production (the default mode) attests through Gramine's /dev/attestation: run the KeyService
# inside an SGX enclave (see docs/gramine.md) with --sgx-collateral for verifying runtimes.
# Keep the sealing key on a different volume than the database (see docs/keyservice.md).

FROM node:20-bookworm AS build
WORKDIR /app
# onnxruntime-node's install script would download optional CUDA files; the KeyService never loads it.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# better-sqlite3's native addon is the one install script the KeyService needs.
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
RUN mkdir /data && chown node:node /data
VOLUME /data
ENV NODE_ENV=production SEMIRT_KEYSERVICE_DB=/data/keyservice.db
EXPOSE 13570 13571
USER node
# SIGTERM closes both listeners and the database (every acknowledged write is already durable).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli/main.js", "keyservice"]
