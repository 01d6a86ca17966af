namespace SlabGen;

/// <summary>
/// A doubly linked list of page frames through their Next/Prev fields, with its length: the buddy free
/// list of one order, or one of a slab cache's empty/partial/full lists. The caller holds the lock that guards it.
/// </summary>
internal unsafe struct PageFrameList
{
    public PageFrame* First;
    public long Count;

    public void Add(PageFrame* page)
    {
        page->Prev = null;
        page->Next = First;
        if (First != null)
        {
            First->Prev = page;
        }

        First = page;
        Count++;
    }

    public void Remove(PageFrame* page)
    {
        if (page->Prev != null)
        {
            page->Prev->Next = page->Next;
        }
        else
        {
            First = page->Next;
        }

        if (page->Next != null)
        {
            page->Next->Prev = page->Prev;
        }

        page->Next = page->Prev = null;
        Count--;
    }
}
