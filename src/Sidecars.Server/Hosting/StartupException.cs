namespace Sidecars.Server.Hosting;

/// <summary>
/// A start-up failure the operator can fix: its message is the one line printed (naming the listener or setting,
/// the value and what is wrong), and the process exits 1 without a stack trace (issue 7, finding 14).
/// </summary>
public sealed class StartupException(string message) : Exception(message);
