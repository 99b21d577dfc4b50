# Build the native AOT binary, then run it alone on a minimal, non-root base.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN dotnet publish src/Sidecars.Server -c Release -r linux-x64 -p:PublishAot=true -o /out \
 && rm -f /out/*.dbg /out/*.pdb /out/*.xml

# runtime-deps chiseled: no shell, no package manager, runs as the non-root "app" user (uid 1654).
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
COPY --from=build /out/sidecars /app/sidecars
USER app
EXPOSE 8080 8081
# Inside a container the listeners must not be loopback-only; mount a config directory at /config.
ENV SIDECARS__GRPC=0.0.0.0:8081 \
    SIDECARS__HTTP=0.0.0.0:8080
ENTRYPOINT ["/app/sidecars"]
CMD ["serve", "--config", "/config"]
