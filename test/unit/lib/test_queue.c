/* Intrusive queue: order, removal during iteration, empty states. */
#include <criterion/criterion.h>

#include "lib/queue.h"

struct item {
    int value;
    struct queue link;
};

Test(queue, fifo_order_and_removal)
{
    struct queue head;
    struct item items[5];
    queueInit(&head);
    cr_assert(queueEmpty(&head));
    cr_assert_null(queueHead(&head));
    for (int i = 0; i < 5; i++) {
        items[i].value = i;
        queueInsertTail(&head, &items[i].link);
    }
    cr_assert_eq(queueCount(&head), 5);
    struct queue *q, *tmp;
    QUEUE_FOREACH_SAFE(q, tmp, &head)
    {
        struct item *it = QUEUE_DATA(q, struct item, link);
        if (it->value % 2 == 1) {
            queueRemove(q);
        }
    }
    int want[] = {0, 2, 4};
    int n = 0;
    QUEUE_FOREACH(q, &head)
    {
        cr_assert_eq(QUEUE_DATA(q, struct item, link)->value, want[n++]);
    }
    cr_assert_eq(n, 3);
    queueInsertHead(&head, &items[1].link);
    cr_assert_eq(QUEUE_DATA(queueHead(&head), struct item, link)->value, 1);
    queueRemove(&items[1].link);
    queueRemove(&items[1].link); /* removing twice is harmless */
    cr_assert_eq(queueCount(&head), 3);
}
