/*
 * An intrusive, circular, doubly-linked queue.
 *
 * Embed a `struct queue` in each element and keep one more as the head; no
 * allocation ever happens here, so inserting and removing cannot fail. An
 * empty queue is a head that points at itself. QUEUE_DATA recovers the
 * element from its link. The queue never owns its elements.
 */
#ifndef LIB_QUEUE_H
#define LIB_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct queue {
    struct queue *next;
    struct queue *prev;
};

#define QUEUE_DATA(link, type, field) \
    ((type *)(void *)((char *)(link)-offsetof(type, field)))

/* Iterate; the body must not remove `q` (use QUEUE_FOREACH_SAFE for that). */
#define QUEUE_FOREACH(q, head) \
    for ((q) = (head)->next; (q) != (head); (q) = (q)->next)

#define QUEUE_FOREACH_SAFE(q, tmp, head)                       \
    for ((q) = (head)->next, (tmp) = (q)->next; (q) != (head); \
         (q) = (tmp), (tmp) = (q)->next)

static inline void queueInit(struct queue *q)
{
    q->next = q;
    q->prev = q;
}

static inline bool queueEmpty(const struct queue *head)
{
    return head->next == head;
}

/* First element, or NULL when empty. */
static inline struct queue *queueHead(const struct queue *head)
{
    return queueEmpty(head) ? NULL : head->next;
}

static inline void queueInsertTail(struct queue *head, struct queue *q)
{
    q->next = head;
    q->prev = head->prev;
    head->prev->next = q;
    head->prev = q;
}

static inline void queueInsertHead(struct queue *head, struct queue *q)
{
    q->next = head->next;
    q->prev = head;
    head->next->prev = q;
    head->next = q;
}

/* Unlink `q`; it becomes a valid empty queue of its own, so removing twice
 * is harmless. */
static inline void queueRemove(struct queue *q)
{
    q->prev->next = q->next;
    q->next->prev = q->prev;
    queueInit(q);
}

/* Number of elements: O(n), for assertions and tests. */
static inline size_t queueCount(const struct queue *head)
{
    size_t n = 0;
    for (const struct queue *q = head->next; q != head; q = q->next) {
        n++;
    }
    return n;
}

#endif /* LIB_QUEUE_H */
