import { Anchor } from '@mantine/core';
import { Link } from 'react-router-dom';

/** A node by name, linking to its page (the node a hypervisor or a tenant is reached through). */
export function NodeLink({ id, name }: { id: number; name: string }) {
  return (
    <Anchor component={Link} to={`/nodes/${id}`} size="sm">
      {name}
    </Anchor>
  );
}
