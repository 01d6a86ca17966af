// The sampling pool's instruments on the SlabGen meter (Diagnostics/SlabGenMetrics.cs), registered once, when sampling
// is switched on: a process that does not sample shows none of them (slabtop then shows no sampling line).
namespace SlabGen;

internal static class SamplingMetrics
{
    /// <summary>Adds the sampling instruments to the meter for <paramref name="pool"/>.</summary>
    public static void Register(SamplePool pool)
    {
        SlabGenMetrics.Observe(Contract.SampleAllocations, () => pool.Statistics().Sampled,
            "{allocation}", "Allocations placed in the sampling pool against a guard page since the process started (SLABGEN_SAMPLE).");
        SlabGenMetrics.Observe(Contract.SampleInUse, () => pool.Statistics().InUse,
            "{object}", "Sampled objects live now.");
        SlabGenMetrics.Observe(Contract.SampleSlots, () => pool.Statistics().Slots,
            "{object}", "Slots of the sampling pool: how many sampled objects can be live at once.");
        SlabGenMetrics.Observe(Contract.SampleErrors, () => pool.Statistics().Errors,
            "{error}", "Misuses of sampled objects caught on free: bad frees and bytes overwritten around an object.");
    }
}
