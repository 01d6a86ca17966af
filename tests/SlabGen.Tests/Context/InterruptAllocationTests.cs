// The run-time side of SLAB107: an outermost interrupt-context scope measures the managed bytes its thread
// allocated inside it, counts them on the meter, and under a switch throws when it ends.
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace SlabGen.Tests.Context;

public sealed class InterruptAllocationTests
{
    [Fact]
    public void A_scope_that_allocates_reports_the_bytes_and_one_that_does_not_reports_zero()
    {
        using (InterruptContext.Enter())
        {
            Keep(new byte[1000]);
        }

        long allocating = InterruptContext.LastScopeManagedBytes;

        int sum = 0;
        using (InterruptContext.Enter())
        {
            for (int i = 0; i < 100; i++)
            {
                sum += i;
            }
        }

        Assert.InRange(allocating, 1000, 1100); // the array's elements plus its header
        Assert.Equal(0, InterruptContext.LastScopeManagedBytes);
        Assert.Equal(4950, sum);
    }

    [Fact]
    public void Only_the_outermost_scope_measures_and_it_counts_what_nested_scopes_allocated()
    {
        using (InterruptContext.Enter())
        {
        }

        long before = InterruptContext.LastScopeManagedBytes;
        long afterInner;
        using (InterruptContext.Enter())
        {
            using (InterruptContext.Enter())
            {
                Keep(new byte[500]);
            }

            afterInner = InterruptContext.LastScopeManagedBytes; // not updated by the inner scope
            Keep(new byte[500]);
        }

        Assert.Equal(0, before);
        Assert.Equal(0, afterInner);
        Assert.InRange(InterruptContext.LastScopeManagedBytes, 1000, 1100);
    }

    [Fact]
    public void The_meter_counts_allocating_scopes_and_their_bytes_per_thread()
    {
        long bytes = 0, scopes = 0;
        int self = Environment.CurrentManagedThreadId;
        using var listener = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Meter.Name == SlabGenMetrics.MeterName && instrument.Name.StartsWith("slabgen.interrupt.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (Environment.CurrentManagedThreadId != self)
            {
                return; // other tests' scopes on other threads
            }

            if (instrument.Name == "slabgen.interrupt.managed_bytes")
            {
                bytes += value;
            }
            else
            {
                scopes += value;
            }
        });
        listener.Start();

        for (int i = 0; i < 3; i++)
        {
            using (InterruptContext.Enter())
            {
                Keep(new byte[200]);
            }
        }

        using (InterruptContext.Enter())
        {
        }

        Assert.Equal(3, scopes);
        Assert.InRange(bytes, 600, 800);
    }

    [Fact]
    public void Under_the_switch_leaving_a_scope_that_allocated_throws_and_the_thread_has_left_it() =>
        ChildProcess.Run(SwitchOn);

    /// <summary>In a child process: the switch is read once, when InterruptContext is first used.</summary>
    private static void SwitchOn()
    {
        AppContext.SetSwitch(InterruptContext.ThrowOnManagedAllocationSwitch, true);
        UnderTheSwitch();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void UnderTheSwitch()
    {
        var clean = InterruptContext.Enter();
        clean.Dispose();

        var scope = InterruptContext.Enter();
        Keep(new object());
        var thrown = Assert.Throws<InvalidOperationException>(scope.Dispose);
        Assert.Contains("allocated", thrown.Message);
        Assert.Contains(InterruptContext.ThrowOnManagedAllocationSwitch, thrown.Message);
        Assert.False(InterruptContext.IsActive);
        Assert.True(InterruptContext.LastScopeManagedBytes > 0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Keep(object value) => GC.KeepAlive(value);
}
