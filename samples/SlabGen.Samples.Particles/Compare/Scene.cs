// The managed objects every variant's game also has: a scene of entities with names, parents and component lists,
// made at load time and kept for the whole run (they end up in gen2), touched every frame without allocating. They make
// a collection cost what it costs in a game: the GC marks through them, and old objects that point to young ones
// (the class variants' particle lists) are scanned at every gen0 collection.
using System.Numerics;

namespace SlabGen.Samples.Particles.Compare;

internal sealed class Scene
{
    private readonly Entity[] _entities;
    private int _next;

    public Scene(int entities)
    {
        _entities = new Entity[entities];
        var byName = new Dictionary<string, Entity>(entities);
        for (int i = 0; i < entities; i++)
        {
            var entity = new Entity($"entity-{i}", i > 0 ? _entities[(i - 1) / 4] : null, [i, i * 2, i * 3, i * 5]);
            _entities[i] = entity;
            byName.Add(entity.Name, entity);
        }

        ByName = byName;
    }

    public IReadOnlyDictionary<string, Entity> ByName { get; }

    /// <summary>Moves a thousand entities (a walk over the scene, as animation would): no allocation.</summary>
    public void Touch()
    {
        for (int i = 0; i < 1000; i++)
        {
            Entity entity = _entities[_next];
            entity.Position += (entity.Parent?.Position ?? Vector3.Zero) * 0.001f + Vector3.UnitX;
            _next = (_next + 1) % _entities.Length;
        }
    }

    internal sealed class Entity(string name, Entity? parent, int[] components)
    {
        public string Name { get; } = name;

        public Entity? Parent { get; } = parent;

        public int[] Components { get; } = components;

        public Vector3 Position;
    }
}
