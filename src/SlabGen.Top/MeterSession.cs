// Reads the SlabGen meter of another process the way dotnet-counters does: an EventPipe session on the runtime's
// System.Diagnostics.Metrics event source, which collects the named meter every RefreshInterval seconds and writes
// each instrument's value between a CollectionStart and a CollectionStop event. One such bracket is one Snapshot.
using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace SlabGen.Top;

/// <summary>An EventPipe session that turns each collection of the target's SlabGen meter into a <see cref="Snapshot"/>.</summary>
internal sealed class MeterSession : IDisposable
{
    private const string MetricsProvider = "System.Diagnostics.Metrics";

    private readonly EventPipeSession _session;
    private readonly string _sessionId;
    private readonly SnapshotBuilder _builder = new();
    private readonly Thread _reader;
    private string? _error;

    private MeterSession(EventPipeSession session, string sessionId, Action<Snapshot> onSnapshot)
    {
        _session = session;
        _sessionId = sessionId;
        _reader = new Thread(() => Read(onSnapshot)) { IsBackground = true, Name = "slabtop EventPipe reader" };
        _reader.Start();
    }

    /// <summary>Whether events still arrive: false once the target exited or the session stopped.</summary>
    public bool IsReading => _reader.IsAlive;

    /// <summary>An error the target's metrics source reported (another session in the way, a failing callback), or null.</summary>
    public string? Error => Volatile.Read(ref _error);

    /// <summary>Starts a session on process <paramref name="processId"/>, collecting every <paramref name="interval"/>.</summary>
    /// <exception cref="ServerNotAvailableException">The process is gone or has no diagnostics port.</exception>
    public static MeterSession Start(int processId, TimeSpan interval, Action<Snapshot> onSnapshot)
    {
        var client = new DiagnosticsClient(processId);
        string sessionId = Guid.NewGuid().ToString("N");
        var arguments = new Dictionary<string, string>
        {
            ["SessionId"] = sessionId,
            ["Metrics"] = Contract.MeterName,
            ["RefreshInterval"] = interval.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            ["MaxTimeSeries"] = "10000",
            ["MaxHistograms"] = "10",
        };
        // Keywords: Messages (1), TimeSeriesValues (2), InstrumentPublishing (4).
        var provider = new EventPipeProvider(MetricsProvider, EventLevel.Informational, 0x7, arguments);
        EventPipeSession session = client.StartEventPipeSession(provider, requestRundown: false);
        return new MeterSession(session, sessionId, onSnapshot);
    }

    private void Read(Action<Snapshot> onSnapshot)
    {
        try
        {
            using var source = new EventPipeEventSource(_session.EventStream);
            source.Dynamic.All += e =>
            {
                if (e.ProviderName != MetricsProvider || e.PayloadByName("sessionId") is string id && id != _sessionId)
                {
                    return;
                }

                switch (e.EventName)
                {
                    case "UpDownCounterRateValuePublished" or "GaugeValuePublished" when (string?)e.PayloadByName("meterName") == Contract.MeterName:
                        string value = (string?)(e.PayloadByName("value") ?? e.PayloadByName("lastValue")) ?? "";
                        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number))
                        {
                            _builder.Add((string)e.PayloadByName("instrumentName"), (string?)e.PayloadByName("tags") ?? "", (long)number);
                        }

                        break;
                    case "CollectionStop" or "Collection/Stop" when _builder.HasValues:
                        onSnapshot(_builder.Build(DateTimeOffset.Now));
                        break;
                    case "Error" or "ObservableInstrumentCallbackError" or "MultipleSessionsNotSupportedError" or "MultipleSessionsConfiguredIncorrectlyError":
                        Volatile.Write(ref _error, $"{e.EventName}: {string.Join(", ", e.PayloadNames.Select((n, i) => $"{n}={e.PayloadValue(i)}"))}");
                        break;
                }
            };
            source.Process();
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or ObjectDisposedException)
        {
            // The target exited or the session stopped: the stream ends, and so does reading.
        }
    }

    /// <summary>Stops the session; the target's metrics source stops collecting.</summary>
    public void Dispose()
    {
        try
        {
            _session.Stop();
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or IOException or TimeoutException)
        {
            // The target is gone: nothing to stop.
        }

        _reader.Join(TimeSpan.FromSeconds(2));
        _session.Dispose();
    }
}
