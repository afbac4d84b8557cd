# klassify for docker-compose.yml. Kafka comes from the compose file, so no Java is needed in this image.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
EXPOSE 9464
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["start"]
