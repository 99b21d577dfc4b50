using Sidecars.Server;

return await Cli.RunAsync(args).ConfigureAwait(false);
