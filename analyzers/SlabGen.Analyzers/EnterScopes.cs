// Where a run-time interrupt-context scope is open: the body of `using (InterruptContext.Enter())`, or what follows
// `using var scope = InterruptContext.Enter();` in its block, up to the nearest lambda or local function (which runs
// whenever it is called, not where it is written). SLAB106 (await inside a scope) and SLAB110 (an interrupt-context
// method called outside one) ask it. What it cannot see: a scope entered without a using and disposed by hand.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

internal static class EnterScopes
{
    /// <summary>Whether a run-time scope is open where <paramref name="operation"/> runs, up to the nearest lambda or local function.</summary>
    public static bool Contains(IOperation operation, KnownSymbols known)
    {
        IOperation child = operation;
        for (IOperation? node = operation.Parent; node is not null; child = node, node = node.Parent)
        {
            switch (node)
            {
                case IAnonymousFunctionOperation or ILocalFunctionOperation:
                    return false;
                case IUsingOperation @using when !ReferenceEquals(child, @using.Resources) && OpensScope(@using.Resources, known):
                    return true;
                case IBlockOperation block when ScopeDeclaredBefore(block, child, known):
                    return true;
            }
        }

        return false;
    }

    /// <summary>Whether a <c>using var … = InterruptContext.Enter();</c> comes before <paramref name="child"/> in <paramref name="block"/>.</summary>
    private static bool ScopeDeclaredBefore(IBlockOperation block, IOperation child, KnownSymbols known)
    {
        foreach (IOperation statement in block.Operations)
        {
            if (ReferenceEquals(statement, child))
            {
                return false;
            }

            if (statement is IUsingDeclarationOperation declaration && OpensScope(declaration.DeclarationGroup, known))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a using's resources open an interrupt-context scope.</summary>
    private static bool OpensScope(IOperation resources, KnownSymbols known)
    {
        if (known.IsEnterScope(resources) || known.IsEnterScope(Unwrap(resources)))
        {
            return true;
        }

        foreach (IOperation descendant in resources.Descendants())
        {
            if (descendant is IVariableInitializerOperation initializer && known.IsEnterScope(Unwrap(initializer.Value)))
            {
                return true;
            }
        }

        return false;
    }

    private static IOperation Unwrap(IOperation operation) =>
        operation is IConversionOperation conversion ? Unwrap(conversion.Operand) : operation;
}
