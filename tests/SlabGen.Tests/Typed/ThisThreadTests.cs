// T.ThisThread, the thread's handle for hot loops: the same cache, objects, checks and exceptions as T.Alloc/T.Free,
// on one thread or across two, through drains, and with no managed allocation.
namespace SlabGen.Tests.Typed;

[Collection(GeneratedCaches.Collection)]
public sealed unsafe class ThisThreadTests
{
    [Fact]
    public void Objects_of_the_handle_and_of_the_type_are_one_cache_and_free_through_either()
    {
        SlabThreadCache<Payload> thread = Payload.ThisThread;
        Assert.Same(Payload.Cache, thread.Cache);
        long live = Payload.Cache.LiveObjects;

        var mine = new SlabRef<Payload>[300];
        for (int i = 0; i < mine.Length; i++)
        {
            mine[i] = i % 2 == 0 ? thread.Alloc() : Payload.Alloc();
            mine[i].Value = new Payload(i);
        }

        Assert.Equal(live + mine.Length, Payload.Cache.LiveObjects);
        Assert.Equal(mine.Length, mine.Select(h => (nint)h.AsPointer()).Distinct().Count());
        for (int i = 0; i < mine.Length; i++)
        {
            Assert.True(mine[i].Value.IsIntact && mine[i].Value.A == i, $"object {i} was overwritten");
            if (i % 3 == 0)
            {
                Payload.Free(mine[i]);
            }
            else
            {
                thread.Free(mine[i]);
            }
        }

        Assert.Equal(live, Payload.Cache.LiveObjects);
        Assert.True(thread.TryAlloc(out SlabRef<Payload> again, GfpFlags.Atomic));
        Assert.Contains((nint)again.AsPointer(), mine.Select(h => (nint)h.AsPointer()));
        thread.Free(again);
    }

    [Fact]
    public void A_checked_type_gets_checked_handles_and_a_double_free_is_refused_with_the_cache_still_usable()
    {
        SlabThreadCache<Entity> thread = Entity.ThisThread;
        SlabRef<Entity> entity = thread.Alloc();
        entity.Value = new Entity(42);
        Assert.True(entity.IsChecked);
        thread.Free(entity);

        Assert.Throws<ObjectDisposedException>(() => Entity.ThisThread.Free(entity));
        Assert.Throws<ObjectDisposedException>(() => entity.Value.Id);

        SlabRef<Entity> next = Entity.ThisThread.Alloc();
        next.Value = new Entity(7);
        Assert.Equal(~7L, next.Value.Checksum);
        Entity.Free(next);
    }

    [Fact]
    public void A_double_free_of_an_unchecked_handle_is_refused_and_the_object_is_handed_out_once()
    {
        SlabThreadCache<Payload> thread = Payload.ThisThread;
        SlabRef<Payload> obj = thread.Alloc();
        long live = Payload.Cache.LiveObjects;
        thread.Free(obj);

        var e = Assert.Throws<ArgumentException>(() => Payload.ThisThread.Free(obj));
        Assert.Contains("double free", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(live - 1, Payload.Cache.LiveObjects);

        SlabRef<Payload> a = Payload.ThisThread.Alloc();
        SlabRef<Payload> b = Payload.ThisThread.Alloc();
        Assert.NotEqual((nint)a.AsPointer(), (nint)b.AsPointer());
        Payload.ThisThread.Free(a);
        Payload.ThisThread.Free(b);
    }

    [Fact]
    public void A_default_handle_says_how_to_take_one_and_changes_nothing()
    {
        long live = Payload.Cache.LiveObjects;
        var e = Assert.Throws<InvalidOperationException>(() => default(SlabThreadCache<Payload>).Alloc());
        Assert.Contains("Payload.ThisThread", e.Message);
        Assert.Throws<InvalidOperationException>(() => default(SlabThreadCache<Payload>).Free(default));
        Assert.Throws<InvalidOperationException>(() => default(SlabThreadCache<Payload>).Cache);
        Assert.Equal(live, Payload.Cache.LiveObjects);

        SlabRef<Payload> obj = Payload.ThisThread.Alloc();
        Payload.ThisThread.Free(obj);
    }

    [Fact]
    public void Another_types_cache_is_refused()
    {
        Assert.Equal("test-payload", Payload.Cache.Name);
        using KmemCache<Payload> other = KmemCache<Payload>.Create("not-the-type-cache");
        var e = Assert.Throws<InvalidOperationException>(() => SlabGen.CompilerServices.TypeCache<Payload>.ThisThread(other, ref System.Runtime.CompilerServices.Unsafe.NullRef<nint>()));
        Assert.Contains("was given cache 'not-the-type-cache', not the type's own cache 'test-payload'", e.Message);
    }

    [Fact]
    public void Two_threads_trade_objects_through_their_handles_with_contents_intact()
    {
        long live = Payload.Cache.LiveObjects;
        using var toB = new System.Collections.Concurrent.BlockingCollection<nint>(256);
        using var toA = new System.Collections.Concurrent.BlockingCollection<nint>(256);
        long bad = 0;
        const int PerThread = 20_000;

        void Run(System.Collections.Concurrent.BlockingCollection<nint> send, System.Collections.Concurrent.BlockingCollection<nint> receive, long seed)
        {
            SlabThreadCache<Payload> thread = Payload.ThisThread;
            for (int i = 0; i < PerThread; i++)
            {
                SlabRef<Payload> obj = thread.Alloc();
                obj.Value = new Payload(seed + i);
                send.Add((nint)obj.AsPointer());
                if (receive.TryTake(out nint theirs, 1000))
                {
                    FreeTheirs(thread, theirs, ref bad);
                }
            }

            send.CompleteAdding();
            foreach (nint theirs in receive.GetConsumingEnumerable())
            {
                FreeTheirs(thread, theirs, ref bad);
            }
        }

        var a = new Thread(() => Run(toB, toA, 1_000_000));
        var b = new Thread(() => Run(toA, toB, 5_000_000));
        a.Start();
        b.Start();
        Assert.True(a.Join(TimeSpan.FromSeconds(30)) && b.Join(TimeSpan.FromSeconds(30)), "the exchange did not finish");

        Assert.Equal(0, Interlocked.Read(ref bad));
        Assert.Equal(live, Payload.Cache.LiveObjects);
        Assert.Null(Payload.Cache.Cache.VerifySlabLists());
    }

    private static void FreeTheirs(SlabThreadCache<Payload> thread, nint theirs, ref long bad)
    {
        var obj = (Payload*)theirs;
        if (!obj->IsIntact)
        {
            Interlocked.Increment(ref bad);
        }

        thread.Free(new SlabRef<Payload>(obj));
    }

    [Fact]
    public void A_drain_of_every_thread_while_a_handle_is_held_loses_and_duplicates_nothing()
    {
        SlabThreadCache<Payload> thread = Payload.ThisThread;
        long live = Payload.Cache.LiveObjects;
        var parked = new SlabRef<Payload>[200];
        for (int i = 0; i < parked.Length; i++)
        {
            parked[i] = thread.Alloc();
        }

        foreach (SlabRef<Payload> h in parked)
        {
            thread.Free(h); // now on this thread's stack
        }

        var drainer = new Thread(() => Payload.Cache.Cache.Shrink());
        drainer.Start();
        Assert.True(drainer.Join(TimeSpan.FromSeconds(10)));

        var after = new SlabRef<Payload>[400];
        for (int i = 0; i < after.Length; i++)
        {
            after[i] = thread.Alloc();
        }

        Assert.Equal(after.Length, after.Select(h => (nint)h.AsPointer()).Distinct().Count());
        Assert.Equal(live + after.Length, Payload.Cache.LiveObjects);
        foreach (SlabRef<Payload> h in after)
        {
            thread.Free(h);
        }
        Assert.Equal(live, Payload.Cache.LiveObjects);
    }

    [Fact]
    public void Pairs_through_the_handle_allocate_no_managed_memory()
    {
        SlabThreadCache<Payload> thread = Payload.ThisThread;
        thread.Free(thread.Alloc());
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            SlabRef<Payload> obj = thread.Alloc();
            obj.Value.A = i;
            thread.Free(obj);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void In_interrupt_context_the_handle_refuses_flags_that_may_sleep_and_serves_atomic_ones()
    {
        using (InterruptContext.Enter())
        {
            var e = Assert.Throws<InvalidOperationException>(() => Payload.ThisThread.Alloc());
            Assert.Contains("sleeping function called from invalid context", e.Message);
            Assert.True(Payload.ThisThread.TryAlloc(out SlabRef<Payload> obj, GfpFlags.Atomic) || Payload.Cache.Cache.Pages.MaxBytes is not null);
            Payload.ThisThread.Free(obj);
        }
    }

    [Fact]
    public void A_default_handle_used_before_a_checked_types_cache_exists_leaves_its_handles_checked()
    {
        // HandleTicket is used nowhere else: its cache does not exist until ThisThread below.
        Assert.Throws<InvalidOperationException>(() => default(SlabThreadCache<HandleTicket>).Alloc());
        Assert.Throws<InvalidOperationException>(() => default(SlabThreadCache<HandleTicket>).Free(default));

        SlabThreadCache<HandleTicket> thread = HandleTicket.ThisThread;
        SlabRef<HandleTicket> ticket = thread.Alloc();
        Assert.True(ticket.IsChecked);
        thread.Free(ticket);
        Assert.Throws<ObjectDisposedException>(() => HandleTicket.Free(ticket));
    }
}

/// <summary>A checked [SlabCache] struct that only the test above touches.</summary>
[SlabCache(Checked = true)]
public partial struct HandleTicket
{
    /// <summary>A payload.</summary>
    public long Number;
}
