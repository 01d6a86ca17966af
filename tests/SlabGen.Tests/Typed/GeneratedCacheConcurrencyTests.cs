// Generated caches under several threads: cross-thread frees, contents checked, exited threads' objects returned.
namespace SlabGen.Tests.Typed;

[Collection(GeneratedCaches.Collection)]
public sealed unsafe class GeneratedCacheConcurrencyTests
{
    private const int Threads = 3;
    private const int PerThread = 20_000;
    private const int Rounds = 20;

    [Fact]
    public void Objects_allocated_on_one_thread_and_freed_on_another_keep_their_contents()
    {
        var handles = new SlabRef<Payload>[Threads][];
        var entities = new SlabRef<Entity>[Threads][];
        Stress.RunThreads(Threads, (self, barrier) =>
        {
            handles[self] = new SlabRef<Payload>[PerThread];
            entities[self] = new SlabRef<Entity>[PerThread / 10];
            for (int round = 0; round < Rounds; round++)
            {
                long seed = ((long)round << 40) | ((long)self << 32);
                for (int i = 0; i < PerThread; i++)
                {
                    handles[self][i] = Payload.New(seed + i);
                }

                for (int i = 0; i < entities[self].Length; i++)
                {
                    entities[self][i] = Entity.New(seed + i);
                }

                barrier.SignalAndWait();
                int victim = (self + 1) % Threads;
                long victimSeed = ((long)round << 40) | ((long)victim << 32);
                for (int i = 0; i < PerThread; i++)
                {
                    ref Payload p = ref handles[victim][i].Value;
                    if (!p.IsIntact || p.A != victimSeed + i)
                    {
                        throw new InvalidOperationException($"round {round}: object {i} of thread {victim} was overwritten");
                    }

                    Payload.Free(handles[victim][i]);
                }

                foreach (SlabRef<Entity> entity in entities[victim])
                {
                    if (entity.Value.Checksum != ~entity.Value.Id)
                    {
                        throw new InvalidOperationException($"round {round}: an entity of thread {victim} was overwritten");
                    }

                    Entity.Free(entity);
                }

                barrier.SignalAndWait();
            }
        });

        Assert.All(handles.SelectMany(static h => h).Take(100), static h => Assert.False(h.IsNull));
        Assert.All(entities.SelectMany(static e => e).Take(100), static e => Assert.Throws<ObjectDisposedException>(() => e.Value.Id));
    }

    [Fact]
    public void The_objects_cached_by_a_thread_that_exits_go_back_to_the_slabs()
    {
        Containers.Inner.Nested.Cache.Shrink();
        long before = Containers.Inner.Nested.Cache.ActiveObjects;
        var thread = new Thread(static () =>
        {
            var objects = Enumerable.Range(0, 1_000).Select(static i => Containers.Inner.Nested.New((short)i, 1)).ToArray();
            Array.ForEach(objects, Containers.Inner.Nested.Free);
        });
        thread.Start();
        thread.Join();

        Assert.True(Containers.Inner.Nested.Cache.ActiveObjects > before, "the exited thread's array cache should still count");
        Containers.Inner.Nested.Cache.Shrink();
        Assert.Equal(before, Containers.Inner.Nested.Cache.ActiveObjects);
    }
}
