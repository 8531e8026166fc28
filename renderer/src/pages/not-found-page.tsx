import { NotFoundState } from '../components/not-found-state.js';

export function NotFoundPage() {
  return (
    <NotFoundState
      pageTitle="Page not found"
      title="There is nothing at this address"
      description="The link may be out of date. Use the navigation on the left, or go back to the dashboard."
      goTo={{ to: '/', label: 'Go to the dashboard' }}
    />
  );
}
